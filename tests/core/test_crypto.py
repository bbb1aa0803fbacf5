"""Field encryption: format, integrity, blind indexes, key loading (issue 3)."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from wellbeing.core import crypto
from wellbeing.core.crypto import IntegrityError, KeyConfigError, Purpose
from wellbeing.students.models import Student

from ..factories import make_school, make_student

CONTEXT = b"student\x1fname\x1f" + str(uuid.UUID(int=1)).encode()


@pytest.fixture(scope="module")
def keyring(tmp_path_factory):  # type: ignore[no-untyped-def]
    material = crypto.generate_key_material()
    stored = []
    for key_id, purpose in enumerate((*crypto.ENCRYPTION_PURPOSES, Purpose.INDEX), start=1):
        wrapped = crypto.new_wrapped_data_key(material, purpose, 1)
        stored.append(crypto.StoredKey(key_id, purpose, 1, wrapped, True))
    return crypto.Keyring(material, stored)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plaintext=st.binary(max_size=200), data=st.data())
def test_flipping_any_byte_is_rejected(keyring, plaintext, data):
    blob = keyring.encrypt(plaintext, Purpose.IDENTITY, CONTEXT)
    position = data.draw(st.integers(0, len(blob) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = bytearray(blob)
    tampered[position] ^= flip
    with pytest.raises(IntegrityError):
        keyring.decrypt(bytes(tampered), CONTEXT)
    assert keyring.decrypt(blob, CONTEXT) == plaintext


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plaintext=st.binary(max_size=100), data=st.data())
def test_truncation_is_rejected(keyring, plaintext, data):
    blob = keyring.encrypt(plaintext, Purpose.CLINICAL, CONTEXT)
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(IntegrityError):
        keyring.decrypt(blob[:cut], CONTEXT)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(max_size=50),
    table=st.sampled_from(["student", "note", "concern"]),
    column=st.sampled_from(["name", "national_id", "text"]),
    other_table=st.sampled_from(["student", "note", "concern"]),
    other_column=st.sampled_from(["name", "national_id", "text"]),
    row=st.uuids(),
    other_row=st.uuids(),
)
def test_a_ciphertext_moved_to_another_row_or_column_is_rejected(
    keyring, text, table, column, other_table, other_column, row, other_row
):
    home = f"{table}\x1f{column}\x1f{row}".encode()
    away = f"{other_table}\x1f{other_column}\x1f{other_row}".encode()
    blob = keyring.encrypt(text.encode(), Purpose.IDENTITY, home)
    if away == home:
        assert keyring.decrypt(blob, away) == text.encode()
    else:
        with pytest.raises(IntegrityError):
            keyring.decrypt(blob, away)


def test_format_carries_version_and_key_id(keyring):
    blob = keyring.encrypt(b"x", Purpose.CLINICAL, CONTEXT)
    version, key_id = crypto.HEADER.unpack_from(blob)
    assert version == crypto.FORMAT_VERSION == 1
    assert key_id == keyring.primary_key_id(Purpose.CLINICAL) == crypto.ciphertext_key_id(blob)
    assert len(blob) == crypto.HEADER.size + crypto.NONCE_BYTES + 1 + 16
    unknown = crypto.HEADER.pack(1, 999) + blob[crypto.HEADER.size :]
    with pytest.raises(IntegrityError, match="unknown data key"):
        keyring.decrypt(unknown, CONTEXT)


def test_one_hundred_thousand_encryptions_use_distinct_nonces(keyring):
    start, end = crypto.HEADER.size, crypto.HEADER.size + crypto.NONCE_BYTES
    nonces = {
        keyring.encrypt(b"same", Purpose.IDENTITY, CONTEXT)[start:end] for _ in range(100_000)
    }
    assert len(nonces) == 100_000


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(min_size=1, max_size=30).filter(lambda v: crypto.normalize_for_index(v)))
def test_blind_index_ignores_width_case_and_spaces_but_not_scope(keyring, value):
    variants = [value, f"  {value}\t", value.upper(), value.lower()]
    digests = {keyring.blind_index("student.name", "school-1", v) for v in variants}
    normalised = {crypto.normalize_for_index(v) for v in variants}
    assert len(digests) == len(normalised)
    assert len(keyring.blind_index("student.name", "school-1", value)) == crypto.BLIND_INDEX_BYTES
    assert keyring.blind_index("student.name", "school-1", value) != keyring.blind_index(
        "student.name", "school-2", value
    )
    assert keyring.blind_index("student.name", "s", value) != keyring.blind_index(
        "student.student_number", "s", value
    )


def test_full_width_and_half_width_digits_share_an_index(keyring):
    assert keyring.blind_index("i", "s", "Ｓ２０２４０１") == keyring.blind_index(
        "i", "s", "s202401"
    )


def test_encrypted_attributes_round_trip_text_date_and_json(db_session):
    school = make_school(db_session)
    guardians = [{"name": "王芳", "phone": "13800000000", "relation": "mother"}]
    student = make_student(db_session, school, name="李小明", national_id="110101201205010011",
                           guardians=guardians)  # fmt: skip
    student_id = student.id
    db_session.expire_all()
    loaded = db_session.get(Student, student_id)
    assert loaded.name == "李小明"
    assert loaded.birth_date == dt.date(2012, 5, 1)
    assert loaded.guardians == guardians
    assert loaded.national_id == "110101201205010011"
    assert b"\xe6\x9d\x8e" not in loaded.name_ct  # the UTF-8 of 李 is not in the stored bytes


def test_filtering_on_an_encrypted_attribute_raises(db_session):
    with pytest.raises(TypeError):
        select(Student).where(Student.name == "李小明")
    with pytest.raises(TypeError):
        select(Student).where(Student.name_ct == b"anything")


def test_a_ciphertext_swapped_between_two_students_is_refused(db_session):
    school = make_school(db_session)
    first, second = make_student(db_session, school), make_student(db_session, school)
    second.name_ct = first.name_ct
    second.__dict__.pop("_wb_plain_name", None)
    with pytest.raises(IntegrityError):
        _ = second.name


# ----------------------------------------------------------------------------- key loading


def test_key_file_is_written_private_and_loads(tmp_path):
    path = tmp_path / "keys.json"
    material = crypto.generate_key_material()
    crypto.write_key_file(path, material)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (
        crypto.load_key_material(str(path), None).master_fingerprint == material.master_fingerprint
    )
    with pytest.raises(FileExistsError):
        crypto.write_key_file(path, material)


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not JSON"),
        (json.dumps({"format": "other"}), "format"),
        (json.dumps({"format": crypto.KEY_FILE_FORMAT, "master_key": "c2hvcnQ="}), "32"),
    ],
)
def test_malformed_key_files_are_refused_with_one_line(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyConfigError) as caught:
        crypto.load_key_material(str(path), None)
    assert "\n" not in str(caught.value)
    assert message in str(caught.value)


def test_missing_and_group_readable_key_files_are_refused(tmp_path):
    with pytest.raises(KeyConfigError, match="WELLBEING_KEY_FILE"):
        crypto.load_key_material(None, None)
    with pytest.raises(KeyConfigError):
        crypto.load_key_material(str(tmp_path / "absent.json"), None)
    path = tmp_path / "open.json"
    crypto.write_key_file(path, crypto.generate_key_material())
    os.chmod(path, 0o644)
    with pytest.raises(KeyConfigError, match="readable"):
        crypto.load_key_material(str(path), None)


def test_a_wrong_master_key_does_not_unwrap_the_stored_keys(env):
    from wellbeing.keys.services import load_keyring

    with env.db.session() as session, pytest.raises(KeyConfigError):
        load_keyring(session, crypto.generate_key_material())


def test_the_app_refuses_to_start_with_a_wrong_key(env, tmp_path):
    from dataclasses import replace

    from wellbeing import create_app
    from wellbeing.config import ConfigError

    wrong = tmp_path / "wrong.json"
    crypto.write_key_file(wrong, crypto.generate_key_material())
    with pytest.raises((ConfigError, KeyConfigError)) as caught:
        create_app(replace(env.settings, key_file=str(wrong)))
    assert "\n" not in str(caught.value)
    assert "key" in str(caught.value).lower()
