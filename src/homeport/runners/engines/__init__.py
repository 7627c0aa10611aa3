"""Engines that run models. Each lives in its own module and imports its library lazily."""
