"""The channels residents reach Sabai through, side by side over the same services."""
