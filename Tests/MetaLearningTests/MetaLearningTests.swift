// Tests for MetaLearning live here.
