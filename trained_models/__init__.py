"""Shipped style models (one ``<style>.safetensors`` per style); installed as ``realtime_style.trained_models``."""
