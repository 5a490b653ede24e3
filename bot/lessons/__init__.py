"""Lessons: the catalogue, taking a lesson, workshop groups, pushes and courses."""
