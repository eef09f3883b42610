"""The hostile-input corpus: one module per failure class, joined in the order the table
in docs/reliability.md lists them."""

from __future__ import annotations

import hostile_checkpoints
import hostile_entry
import hostile_files
import hostile_images
import hostile_surfaces
import hostile_text

CASES = [
    *hostile_entry.CASES,
    *hostile_files.CASES,
    *hostile_text.CASES,
    *hostile_images.CASES,
    *hostile_checkpoints.CASES,
    *hostile_surfaces.CASES,
]
