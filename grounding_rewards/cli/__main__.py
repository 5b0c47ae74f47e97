"""``python -m grounding_rewards.cli``."""

import sys

from grounding_rewards.cli import main

sys.exit(main())
