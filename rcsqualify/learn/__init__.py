"""``rcsqualify learn``: what a sent campaign's delivery events teach the cache.

- ``profiles``: outcome profiles (TOML, built-in or a user's file): where the number,
  the date and the outcome are in an event, and which outcomes mean what;
- ``events``: the events files, streamed (NDJSON, CSV, XLSX, Parquet), as chunks of
  raw fields;
- ``outcomes``: the chunks reduced to one outcome per number (the latest conclusive
  event wins), in bounded memory;
- ``apply``: the scope ``check`` would use, the cache writes, the projection against
  reality;
- ``report``: terminal, JSON, HTML and Markdown renderings.
"""
