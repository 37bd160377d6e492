// Tests for Spiking live here.
