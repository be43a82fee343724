def check_tables(layers_dir, eco):
    return []
