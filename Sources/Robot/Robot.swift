// The Robot module: see ../shared/DESIGN.md for what it owns.
