"""Serves one export with the stand-alone server of its bundle: what the compose file's `model`
service runs (PRAKRIYA_SERVE_EXPORT=<export id>). The bundle is unpacked into a temporary folder
and the server takes over this process."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import zipfile

from django.core.management.base import BaseCommand, CommandError

from deployments.bundle.build import bundle_bytes
from deployments.models import ExportState, ModelExport


class Command(BaseCommand):
    help = "Serve one ready export over HTTP with its bundle's stand-alone server."

    def add_arguments(self, parser):
        parser.add_argument("export", type=int, nargs="?", default=os.environ.get("PRAKRIYA_SERVE_EXPORT"))
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument("--host", default="0.0.0.0")

    def handle(self, *args, **options):
        if not options["export"]:
            raise CommandError("Name the export to serve (or set PRAKRIYA_SERVE_EXPORT).")
        export = ModelExport.objects.filter(pk=int(options["export"]), state=ExportState.READY).first()
        if export is None:
            raise CommandError(f"No ready export {options['export']}.")
        folder = tempfile.mkdtemp(prefix="prakriya-serve-")
        with zipfile.ZipFile(io.BytesIO(bundle_bytes(export))) as archive:
            archive.extractall(folder)
        self.stdout.write(f"Serving export {export.pk} of {export.project.slug} on port {options['port']}")
        os.execv(sys.executable, [sys.executable, os.path.join(folder, "server.py"), "--host", options["host"],
                                  "--port", str(options["port"]), "--folder", folder])
