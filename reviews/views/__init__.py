"""HTML views of the reviews app: one module per area (thin: parse, call a service or selector, render)."""
