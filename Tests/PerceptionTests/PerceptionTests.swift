// Tests for Perception live here.
