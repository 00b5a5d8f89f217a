"""Rotation of the download-link key (Secrets Manager calls it: createSecret, setSecret,
testSecret, finishSecret). Links signed with the previous key stay valid until they expire."""
from __future__ import annotations

from facteur.adapters.secrets import rotate_link_key
from facteur.context import get_context
from facteur.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def rotate_handler(event, context):
    return rotate_link_key(get_context().client("secretsmanager"), event["SecretId"], event["ClientRequestToken"],
                           event["Step"])
