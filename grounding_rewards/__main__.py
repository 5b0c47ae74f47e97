"""``python -m grounding_rewards``."""

import sys

from grounding_rewards.cli import main

sys.exit(main())
