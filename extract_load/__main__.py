from extract_load.cli import run

run()
