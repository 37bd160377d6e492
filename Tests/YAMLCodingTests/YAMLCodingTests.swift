// Tests for YAMLCoding live here.
