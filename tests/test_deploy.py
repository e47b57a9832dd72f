"""deploy/: the nginx configuration the replica script writes."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "deploy"))
from replicas import nginx_config  # noqa: E402


def test_the_config_has_websockets_stickiness_and_every_replica(tmp_path):
    text = nginx_config([8601, 8602, 8603], "127.0.0.1:8080", str(tmp_path))
    for want in ("proxy_set_header Upgrade $http_upgrade", "hash $nncore_key consistent",
                 "server 127.0.0.1:8601", "server 127.0.0.1:8603", "listen 127.0.0.1:8080;",
                 "proxy_next_upstream error timeout"):
        assert want in text
    assert not re.search(r"@[A-Z]+@", text)
