"""Drives a Rapport server with the official Close Python client (PyPI `closeio`), unchanged.

Usage: python3 close_client.py BASE_URL API_KEY
"""
import sys

from closeio_api import API, APIError, ValidationError

base, key = sys.argv[1], sys.argv[2]
api = API(base.rstrip("/") + "/api/v1/", api_key=key, tz_offset="0", max_retries=1)

me = api.get("me")
assert me["email"], me

source = api.post("custom_field/lead", {"name": "Source", "type": "text"})
lead = api.post(
    "lead",
    {
        "name": "Close Client Co",
        "url": "closeclient.example.com",
        "contacts": [
            {"name": "Ann Lee", "title": "CTO", "emails": [{"email": "ann@closeclient.example.com", "type": "office"}],
             "phones": [{"phone": "+1 415 555 0199", "type": "mobile"}]},
        ],
        "custom." + source["id"]: "python",
    },
)
assert lead["id"].startswith("lead_"), lead
assert lead["custom." + source["id"]] == "python", lead
assert lead["contacts"][0]["phones"][0]["phone"] == "+14155550199", lead

got = api.get("lead/" + lead["id"])
assert got["contacts"][0]["emails"][0]["email"] == "ann@closeclient.example.com", got
assert got["status_label"] == "Potential", got

updated = api.put("lead/" + lead["id"], {"description": "Updated by closeio_api", "status": "Qualified"})
assert updated["description"] == "Updated by closeio_api" and updated["status_label"] == "Qualified", updated

for i in range(5):
    api.post("lead", {"name": "Paged %d" % i})
seen, skip = [], 0
while True:
    page = api.get("lead", params={"_skip": skip, "_limit": 2, "_fields": "id,name"})
    seen += [row["id"] for row in page["data"]]
    skip += len(page["data"])
    if not page["has_more"]:
        break
assert len(seen) == 6 == len(set(seen)) == page["total_results"], (seen, page)

contact = lead["contacts"][0]
note = api.post("activity/note", {"lead_id": lead["id"], "note": "Spoke about pricing"})
call = api.post("activity/call", {"lead_id": lead["id"], "contact_id": contact["id"], "direction": "outbound", "duration": 90, "note": "Left a voicemail"})
email = api.post("activity/email", {"lead_id": lead["id"], "direction": "outgoing", "subject": "Proposal", "body_text": "Attached", "status": "sent"})
activities = api.get("activity", params={"lead_id": lead["id"]})
types = sorted(a["_type"] for a in activities["data"])
assert types == ["Call", "Email", "LeadStatusChange", "Note"], types

opportunity = api.post("opportunity", {"lead_id": lead["id"], "status": "Active", "value": 250000, "value_period": "monthly", "confidence": 50})
assert opportunity["value"] == 250000 and opportunity["status_type"] == "active", opportunity
won = api.put("opportunity/" + opportunity["id"], {"status": "Won"})
assert won["status_type"] == "won", won

task = api.post("task", {"lead_id": lead["id"], "text": "Send the contract", "date": "2030-01-15"})
assert task["is_complete"] is False, task
api.put("task/" + task["id"], {"is_complete": True})
assert api.get("task", params={"lead_id": lead["id"], "is_complete": "true"})["total_results"] == 1

assert api.delete("activity/note/" + note["id"]) == {}
api.delete("task/" + task["id"])
api.delete("lead/" + lead["id"])
try:
    api.get("lead/" + lead["id"])
    raise AssertionError("a deleted lead is still there")
except APIError as e:
    assert e.response.status_code == 404, e.response.text

try:
    api.post("lead", {"name": 5, "url": "not a url", "contacts": [{"emails": [{"email": "nope"}]}]})
    raise AssertionError("bad input was accepted")
except ValidationError as e:
    assert set(e.field_errors) == {"name", "url", "contacts[0].emails[0].email"}, e.field_errors

print("closeio_api: all checks passed")
