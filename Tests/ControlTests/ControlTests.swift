// Tests for Control live here.
