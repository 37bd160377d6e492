// The Control module: see ../shared/DESIGN.md for what it owns.
