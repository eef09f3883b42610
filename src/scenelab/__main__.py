from scenelab.cli import main

raise SystemExit(main())
