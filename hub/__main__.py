from hub.commands.cli import main

if __name__ == "__main__":  # not again in a spawned child process (hub.ngsi.push_process)
    raise SystemExit(main())
