"""extgen's jinja2 templates, shipped inside the package as extgen.templates."""
