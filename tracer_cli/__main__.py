from tracer_cli.cli.app import main

main()
