#!/usr/bin/env python
"""Django's manage.py for the pgpool demo project (``run_demo.py`` drives it)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
