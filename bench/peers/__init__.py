# SPDX-License-Identifier: MIT
"""One adapter per benchmarked peer (see base.py for the interface)."""
