# Frame oracle for ESPNet (p=2, q=8; the bundled espnet_camvid, or the authors' checkpoint with
# --weights espnet_p_2_q_8_camvid.pth): every level on every frame, i.e. the plain model. The accuracy and time reference of the ESPNet schedules.
# Stages are the encoder's levels; the decoder (RUM, with its skip connections) is the fuse.
network espnet input 360x480

stage s1 = level1 .. b1     head feat_l1    # 1/2: level1 + the image pooled to 1/2
stage s2 = level2_0 .. b2   head level3_C   # 1/4: down-sampler, 2 ESP blocks, image at 1/4
stage s3 = level3_0 .. b3   head score_l3   # 1/8: down-sampler, 8 ESP blocks, classifier

compute s1 when 1
compute s2 when 1
compute s3 when 1

output fuse(s1, s2, s3)
