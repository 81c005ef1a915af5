from otayori.cli import main

main()
