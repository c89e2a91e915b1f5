def main():
    from prover.cli.main import main as _main
    _main()
