def main():
    """The console script: the command runs in a supervised child (see prover.cli.supervise)."""
    from prover.cli.supervise import main as _main
    _main()
