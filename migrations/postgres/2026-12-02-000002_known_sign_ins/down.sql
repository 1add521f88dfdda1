DROP TABLE known_sign_ins;
