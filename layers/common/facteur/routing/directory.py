"""The directory in DynamoDB: suppliers, their customers with recipients by role and channel,
identifier aliases to find the customer an invoice is addressed to, and API keys (stored as
SHA-256 hashes, never in clear).

| item                         | PK                    | SK                         |
|------------------------------|-----------------------|----------------------------|
| supplier profile             | SUP#{supplier}        | PROFILE                    |
| customer                     | SUP#{supplier}        | CUS#{customer}             |
| customer alias (SIREN, VAT…) | SUP#{supplier}        | ALIAS#{normalised id}      |
| API key                      | KEY#{sha256}          | KEY                        |
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from ..adapters.dynamodb import Table
from ..errors import InvalidInput, NotFound
from ..model.directory import Customer, Supplier
from ..model.invoice import Party


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def normalise_id(value: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def party_aliases(p: Party) -> list[str]:
    """Identifiers by which the buyer of an invoice can be recognised."""
    out = []
    if p.siren:
        out.append(p.siren)
    for v in [p.vat_id, p.legal_id, p.electronic_address] + [i.value for i in p.identifiers]:
        if v:
            out.append(normalise_id(v))
    return [a for a in dict.fromkeys(out) if a]


class DirectoryStore(Table):
    def _put(self, item: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table_name, Item=self._ser(item))

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        res = self.client.get_item(TableName=self.table_name, Key=self._ser({"PK": pk, "SK": sk}))
        return self._de(res["Item"]) if "Item" in res else None

    # -- writes (loading the directory) --
    def put_supplier(self, s: Supplier, api_keys: Sequence[str] = (),
                     agency_keys: dict[str, list[str]] | None = None) -> None:
        self._put({"PK": f"SUP#{s.id}", "SK": "PROFILE", "data": s.model_dump(mode="json")})
        self._put({"PK": "SUPPLIERS", "SK": f"SUP#{s.id}"})  # the registry the schedules read (no scan)
        for k in api_keys:
            self._put({"PK": f"KEY#{key_hash(k)}", "SK": "KEY", "supplier_id": s.id})
        for agency_id, keys in (agency_keys or {}).items():  # an agency's key reaches its cases only
            for k in keys:
                self._put({"PK": f"KEY#{key_hash(k)}", "SK": "KEY", "supplier_id": s.id, "agency_id": agency_id})

    def put_customer(self, supplier_id: str, c: Customer) -> None:
        # what was given (its group's rules fill in what it does not say: see GroupRules.apply)
        self._put({"PK": f"SUP#{supplier_id}", "SK": f"CUS#{c.id}", "data": c.model_dump(mode="json", exclude_unset=True)})
        aliases = [c.siren, c.vat_id, *c.identifiers]
        for a in aliases:
            if a:
                self._put({"PK": f"SUP#{supplier_id}", "SK": f"ALIAS#{normalise_id(a)}", "customer_id": c.id})

    def replace_customer(self, supplier_id: str, c: Customer) -> None:
        """PUT /customers/{id}: the customer as given (validated by the model), its identifiers
        re-pointed: one that names another customer of the supplier is refused, the ones it no
        longer has are removed (invoices naming them are then matched by the others)."""
        from ..errors import Conflict

        supplier = self.supplier(supplier_id)
        group = supplier.groups.get(c.group or "")
        if group is not None:
            try:
                group.apply(c)
            except ValueError as exc:
                raise InvalidInput(f"in group '{c.group}': {exc}", code="group_clash") from exc
        if c.scenario and c.scenario not in supplier.scenarios:
            raise InvalidInput(f"scenario '{c.scenario}' is not one of the supplier's "
                               f"({', '.join(sorted(supplier.scenarios)) or 'none'})", code="unknown_scenario")
        new = {normalise_id(a) for a in (c.siren, c.vat_id, *c.identifiers) if a}
        for alias in sorted(new):
            item = self._get(f"SUP#{supplier_id}", f"ALIAS#{alias}")
            if item and item.get("customer_id") != c.id:
                raise Conflict(f"identifier {alias} already names customer {item.get('customer_id')}",
                               code="identifier_taken")
        old = self._get(f"SUP#{supplier_id}", f"CUS#{c.id}")
        if old:
            was = Customer.model_validate(old["data"])
            for a in {normalise_id(x) for x in (was.siren, was.vat_id, *was.identifiers) if x} - new:
                self.client.delete_item(TableName=self.table_name, Key=self._ser({"PK": f"SUP#{supplier_id}",
                                                                                   "SK": f"ALIAS#{a}"}))
        self.put_customer(supplier_id, c)

    # -- reads --
    def supplier(self, supplier_id: str) -> Supplier:
        item = self._get(f"SUP#{supplier_id}", "PROFILE")
        if item is None:
            raise NotFound(f"supplier {supplier_id} is not in the directory")
        return Supplier.model_validate(item["data"])

    def customer(self, supplier_id: str, customer_id: str) -> Customer:
        """The customer with its group's rules (the supplier's `groups`) where it has none of its own."""
        return self._grouped(supplier_id, self.own_customer(supplier_id, customer_id))

    def own_customer(self, supplier_id: str, customer_id: str) -> Customer:
        """The customer as stored (GET/PUT /customers/{id}), without its group's rules."""
        item = self._get(f"SUP#{supplier_id}", f"CUS#{customer_id}")
        if item is None:
            raise NotFound(f"customer {customer_id} of supplier {supplier_id} is not in the directory")
        return Customer.model_validate(item["data"])

    def _grouped(self, supplier_id: str, c: Customer) -> Customer:
        if not c.group:
            return c
        rules = self.supplier(supplier_id).groups.get(c.group)
        return rules.apply(c) if rules else c

    def customers(self, supplier_id: str) -> list[Customer]:
        out, kwargs = [], {"TableName": self.table_name, "KeyConditionExpression": "PK = :pk AND begins_with(SK, :c)",
                           "ExpressionAttributeValues": self._ser({":pk": f"SUP#{supplier_id}", ":c": "CUS#"})}
        while True:
            res = self.client.query(**kwargs)
            out += [self._grouped(supplier_id, Customer.model_validate(self._de(i)["data"])) for i in res.get("Items", [])]
            if "LastEvaluatedKey" not in res:
                return out
            kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]

    def find_customer(self, supplier_id: str, buyer: Party) -> Customer | None:
        for alias in party_aliases(buyer):
            item = self._get(f"SUP#{supplier_id}", f"ALIAS#{alias}")
            if item:
                return self.customer(supplier_id, item["customer_id"])
        return None

    def principal_for_key(self, api_key: str) -> tuple[str, str | None] | None:
        """(supplier id, agency id or None) of an API key; None for an unknown key."""
        item = self._get(f"KEY#{key_hash(api_key)}", "KEY")
        return (item["supplier_id"], item.get("agency_id")) if item else None

    def supplier_for_key(self, api_key: str) -> str | None:
        item = self._get(f"KEY#{key_hash(api_key)}", "KEY")
        return item["supplier_id"] if item else None

    def suppliers(self) -> list[str]:
        """All supplier ids (for schedules): one query of the registry partition, whatever the
        number of customers and aliases in the table (items read = suppliers)."""
        out: list[str] = []
        kwargs: dict[str, Any] = {"TableName": self.table_name, "KeyConditionExpression": "PK = :p",
                                  "ExpressionAttributeValues": {":p": {"S": "SUPPLIERS"}}}
        while True:
            res = self.client.query(**kwargs)
            out += [i["SK"]["S"].split("#", 1)[1] for i in res.get("Items", [])]
            if "LastEvaluatedKey" not in res:
                return sorted(out)
            kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]


def parse_yaml(text: str) -> list[tuple[Supplier, list[str], list[Customer], dict[str, list[str]]]]:
    """A directory file, {suppliers: [{..., api_keys: [...], customers: [...]}]}, validated whole:
    InvalidInput names the supplier, the customer and the field at fault."""
    import yaml
    from pydantic import ValidationError

    from ..errors import InvalidInput

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the directory is not valid YAML: {exc}", code="invalid_directory") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("suppliers", []), list):
        raise InvalidInput("a directory file is {suppliers: [...]}", code="invalid_directory")

    def fail(where: str, exc: ValidationError) -> InvalidInput:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        return InvalidInput(f"{where}{', ' + field if field else ''}: {err['msg'].removeprefix('Value error, ')}",
                            code="invalid_directory")

    out = []
    for n, s in enumerate(doc.get("suppliers", []), start=1):
        s = dict(s)
        keys = s.pop("api_keys", [])
        customers = s.pop("customers", [])
        agency_keys = {}
        if isinstance(s.get("agencies"), list):  # agencies' keys are stored hashed apart, never in the profile
            s["agencies"] = [dict(a) for a in s["agencies"] if isinstance(a, dict)]
            agency_keys = {str(a.get("id")): list(a.pop("api_keys", []) or []) for a in s["agencies"]}
        where = f"supplier '{s.get('id', n)}'"
        try:
            sup = Supplier.model_validate(s)
        except ValidationError as exc:
            raise fail(where, exc) from exc
        parsed = []
        for c in customers:
            try:
                cus = Customer.model_validate(c)
            except ValidationError as exc:
                raise fail(f"{where}, customer '{(c or {}).get('id', '?')}'", exc) from exc
            if cus.scenario and cus.scenario not in sup.scenarios:
                raise InvalidInput(f"{where}, customer '{cus.id}': scenario '{cus.scenario}' is not one of the "
                                   f"supplier's ({', '.join(sorted(sup.scenarios)) or 'none'})", code="invalid_directory")
            group = sup.groups.get(cus.group or "")
            if group is not None:
                try:
                    group.apply(cus)  # the customer with its group's recipients and rules must hold together
                except (ValueError, ValidationError) as exc:
                    raise InvalidInput(f"{where}, customer '{cus.id}' in group '{cus.group}': "
                                       f"{str(exc).splitlines()[0].removeprefix('Value error, ')}",
                                       code="invalid_directory") from exc
            parsed.append(cus)
        out.append((sup, keys, parsed, agency_keys))
    return out


def load_yaml(store: DirectoryStore, text: str) -> dict[str, int]:
    """Load a directory file (validated whole before anything is written)."""
    counts = {"suppliers": 0, "customers": 0}
    for sup, keys, customers, agency_keys in parse_yaml(text):
        store.put_supplier(sup, keys, agency_keys)
        counts["suppliers"] += 1
        for c in customers:
            store.put_customer(sup.id, c)
            counts["customers"] += 1
    return counts
