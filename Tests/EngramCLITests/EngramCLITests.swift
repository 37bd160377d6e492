// Tests for EngramCLI live here.
