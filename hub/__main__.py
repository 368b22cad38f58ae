from hub.commands.cli import main

raise SystemExit(main())
