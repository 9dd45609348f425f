"""What an outside attack found in webhooks (issue 15, Medium 6 and Low): URLs that point the
worker at internal services (SSRF), names that resolve elsewhere at send time (DNS rebinding),
and a port out of range that left a delivery pending forever."""

import socket

import pytest
from django.core.exceptions import ValidationError

from alerts.delivery import alert_delivery_send
from alerts.models import AlertDelivery, ContactWebhook
from alerts.services import observation_alert
from alerts.webhooks import WebhookRefused, webhook_target
from community.services import observation_review
from tests.factories import contact
from tests.world import classified

pytestmark = pytest.mark.django_db
PUBLIC = "93.184.215.14"  # a public address (IP literals resolve without a network)


def _hook(geo, url):
    agency = (
        ContactWebhook._meta.get_field("contact")
        .related_model.objects.filter(organisation="Lake County Wildlife")
        .first()
    )
    return ContactWebhook(contact=agency or contact(geo["county"], "Lake County Wildlife"), url=url, secret="s3cret")


def _pending_delivery(users, geo, model_version, taxa, url):
    hook = _hook(geo, url)
    hook.save()  # as an old row, saved before the URL was checked
    observation = classified(users["alice"], 7, 2, [("Testus invasor", 0.6)], model_version)
    observation_review(observation=observation, reviewer=users["rita"], decision="confirm", taxon=taxa["invasor"])
    observation_alert(observation_id=observation.pk, trigger="verified")
    return AlertDelivery.objects.get(channel="webhook")


@pytest.fixture
def fake_dns(monkeypatch):
    """Answers for names under .example that the test sets (there is no network here); every
    other lookup goes to the real resolver. Records how often each name was looked up."""
    answers, lookups, real = {}, [], socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".example"):
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, lookups


@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://127.0.0.1/hook", "non-public"),
        ("https://169.254.169.254/latest/meta-data/", "non-public"),
        ("https://[::1]:6379/", "non-public"),
        ("https://localhost:5432/", "non-public"),
        ("https://[::ffff:10.0.0.1]/", "non-public"),
        ("https://0.0.0.0/", "non-public"),
        (f"http://{PUBLIC}/hook", "https"),
        (f"https://{PUBLIC}:99999/hook", "port"),
        (f"https://user:pw@{PUBLIC}/hook", "credentials"),
    ],
)
def test_medium6_internal_or_plain_http_webhook_urls_refused_at_validation(geo, url, reason):
    with pytest.raises(ValidationError) as refused:
        _hook(geo, url).full_clean()
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "address",
    ["::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b:1::a00:1", "2002:7f00:1::", "2002:a9fe:a9fe::1", "::a00:1"],
)
def test_low_webhook_ipv6_forms_wrapping_an_internal_ipv4_are_refused(geo, address):
    """Issue 23, Low: IPv4-compatible, NAT64 and 6to4 forms of 127.0.0.1, 10.0.0.1 and
    169.254.169.254 were accepted as global addresses."""
    with pytest.raises(ValidationError) as refused:
        _hook(geo, f"https://[{address}]/hook").full_clean()
    assert "non-public" in str(refused.value)


def test_low_webhook_ipv6_forms_wrapping_a_public_ipv4_stay_accepted(geo):
    for address in ("64:ff9b::5db8:d70e", "2002:5db8:d70e::1", "2606:4700:4700::1111"):
        assert webhook_target(f"https://[{address}]/hook").address == address


def test_medium6_public_https_webhook_url_is_accepted(geo):
    _hook(geo, f"https://{PUBLIC}/hook").full_clean()
    target = webhook_target(f"https://{PUBLIC}:8443/hook?x=1")
    assert (target.address, target.port, target.pinned_url) == (PUBLIC, 8443, f"https://{PUBLIC}:8443/hook?x=1")


def test_medium6_name_rebound_to_an_internal_address_is_refused_at_send_time(users, geo, model_version, taxa, fake_dns):
    internal = socket.create_server(("127.0.0.1", 0))  # an internal service the name is rebound to
    internal.settimeout(0.3)
    url = f"https://hooks.partner.example:{internal.getsockname()[1]}/alerts"
    answers, _ = fake_dns
    answers["hooks.partner.example"] = PUBLIC
    _hook(geo, url).full_clean()  # public when the admin saved it
    delivery = _pending_delivery(users, geo, model_version, taxa, url)
    answers["hooks.partner.example"] = "127.0.0.1"  # ... and internal when the alert goes out
    assert alert_delivery_send(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert "non-public" in delivery.last_error and delivery.response_status is None
    with pytest.raises(TimeoutError):
        internal.accept()  # nobody connected
    internal.close()


def test_medium6_post_goes_to_the_checked_address_with_one_lookup(users, geo, model_version, taxa, fake_dns, receiver):
    answers, lookups = fake_dns
    answers["hooks.partner.example"] = "127.0.0.1"  # allowed here: the tests' receiver (local_webhooks)
    port = receiver.server_address[1]
    delivery = _pending_delivery(users, geo, model_version, taxa, f"http://hooks.partner.example:{port}/hook")
    lookups.clear()
    assert alert_delivery_send(delivery_id=delivery.pk) == "sent"
    assert lookups == ["hooks.partner.example"]  # checked once; the POST used that answer
    (request,) = receiver.received
    assert request["headers"]["Host"] == f"hooks.partner.example:{port}" and request["path"] == "/hook"


def test_medium6_redirects_are_not_followed(users, geo, model_version, taxa, receiver):
    receiver.answers = [302]
    delivery = _pending_delivery(users, geo, model_version, taxa, receiver.url)
    assert alert_delivery_send(delivery_id=delivery.pk) == "failed"
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert delivery.response_status == 302


def test_low_webhook_port_99999_fails_instead_of_staying_pending(users, geo, model_version, taxa):
    delivery = _pending_delivery(users, geo, model_version, taxa, f"https://{PUBLIC}:99999/hook")
    assert alert_delivery_send(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "port" in delivery.last_error


def test_medium6_every_address_of_a_name_must_be_public(monkeypatch):
    def two_answers(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    with pytest.raises(WebhookRefused, match="10.1.2.3"):
        webhook_target("https://split.example/hook")


def test_medium6_tls_to_the_checked_address_still_verifies_the_host_name(
    users, geo, model_version, taxa, fake_dns, settings, tmp_path
):
    import ssl
    import threading
    from http.server import ThreadingHTTPServer

    import trustme

    from tests.world import _Receiver

    ca = trustme.CA()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received, server.answers = [], []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.partner.example").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.RANGEWATCH_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.RANGEWATCH_WEBHOOK_CA_BUNDLE = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(settings.RANGEWATCH_WEBHOOK_CA_BUNDLE)
    answers, _ = fake_dns
    answers["hooks.partner.example"] = answers["impostor.example"] = "127.0.0.1"
    port = server.server_address[1]
    try:
        delivery = _pending_delivery(users, geo, model_version, taxa, f"https://hooks.partner.example:{port}/hook")
        assert alert_delivery_send(delivery_id=delivery.pk) == "sent" and len(server.received) == 1
        # A name the certificate does not cover is refused, even though the address is the same.
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            status="pending", target=f"https://impostor.example:{port}/hook"
        )
        with pytest.raises(Exception, match="hostname"):
            alert_delivery_send(delivery_id=delivery.pk)
        assert len(server.received) == 1
    finally:
        server.shutdown()
        server.server_close()
