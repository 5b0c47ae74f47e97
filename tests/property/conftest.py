"""Hypothesis profiles for the property suite.

``ci`` (the default: 200 examples, derandomized, no deadline) and ``dev`` (50
examples); choose with ``HYPOTHESIS_PROFILE=dev``. ``thorough`` (2000) is there for
long local runs.
"""

from grounding_rewards.testing import register_profiles

register_profiles(default="ci")
