from tracer_cli.cli import main

main()
