// Tests for ServoBus live here.
