"""The pipeline: stages as plain functions, and the worker that records state."""
