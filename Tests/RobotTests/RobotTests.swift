// Tests for Robot live here.
