"""Sandboxes: one private Docker engine per learner, on bungeo's dedicated sandbox engine."""
