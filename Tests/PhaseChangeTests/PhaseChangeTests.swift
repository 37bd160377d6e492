// Tests for PhaseChange live here.
