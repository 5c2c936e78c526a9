"""Label Studio interop of labelling campaigns.

The Label Studio JSON format, as pure functions over plain records (no Django): records.py (the
records and shared checks), offsets.py (code points vs UTF-16 units), config.py (the labelling
config XML), writer.py (tasks and the JSON export), reader.py (parsing an export). client.py talks
HTTP to a Label Studio server.

A campaign's side, over our models: exports.py (the campaign as an LS export), imports.py (an LS
export into the campaign), sync.py (syncing with a server, as the job of jobs.py); api.py and
views.py are its REST API and pages. Kept light: importing the package imports none of them.
"""
