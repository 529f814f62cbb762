from ecomctl.cli.main import main

main()
