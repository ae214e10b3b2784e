"""A site's configuration beyond what issues need: capture (``capture``), and the parts a
restore can write back (``restore``)."""
