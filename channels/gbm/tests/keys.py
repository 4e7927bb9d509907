"""A Google service-account JSON key for the tests (the shape the IAM console downloads), with a private key
made for this test run: the OAuth 2.0 JWT-bearer grant signs with it, the tests check with its public key."""

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = _PRIVATE.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = (
    _PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
KEY = json.dumps(
    {
        "type": "service_account",
        "project_id": "bm-partner-123",
        "private_key_id": "4f1c0e9a2b",
        "private_key": PRIVATE_PEM,
        "client_email": "bm-agent@bm-partner-123.iam.gserviceaccount.com",
        "client_id": "101010101010101010101",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    },
    indent=2,
)
