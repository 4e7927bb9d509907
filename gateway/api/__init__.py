"""HTTP interface: one module per resource. Controllers translate HTTP; services hold the logic."""
