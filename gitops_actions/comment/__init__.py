"""Sticky PR/MR comments: render a diff to markdown, split it to fit, post it in place.

``render`` turns a diff document into markdown, ``split`` cuts markdown into parts that
fit a platform's limit, ``markers`` names our comments, ``sticky`` decides which comments
to create, edit or remove and then does it through a ``Forge``.
"""
