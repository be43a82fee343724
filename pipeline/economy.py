"""Stage 5, economy (placeholder while the refactor lands)."""


def run(cfg, stages, out):
    raise NotImplementedError


def report_section(cfg, path):
    return ""
