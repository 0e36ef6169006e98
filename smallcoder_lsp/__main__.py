import sys

from smallcoder_lsp.cli import main

sys.exit(main())
